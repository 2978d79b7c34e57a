/*
 * x_token.h - the X adapter's OAuth 2.0 user token, kept alive across
 * processes: two-hour access tokens refreshed with a refresh token that X
 * rotates on every use (the old one dies at once).
 *
 * The pair lives in Redis, the hash PREFIX:{e}:cred:x:CLIENT_ID (fields
 * access_token, refresh_token, expires_at_ms, seed_sha256), so that every
 * worker process and every restart uses the latest one. The config's
 * refresh token is only the seed: the Redis copy wins over it unless the
 * seed changed (its SHA-256 differs from seed_sha256: an operator
 * authorised the app again and put the new token in the config).
 *
 * One refresh at a time, across processes: the refresher holds the lock
 * PREFIX:{e}:cred:x:CLIENT_ID:lock (SET NX PX, released by compare and
 * delete in the same script that stores the new pair). Before it spends
 * the refresh token it reads the hash again, and a process that finds the
 * lock taken waits and reads the hash: whoever refreshed first, the others
 * take that pair rather than spend a dead refresh token. A refresh that
 * X refuses is also followed by a read of the hash, for the same reason.
 *
 * Tokens go to X and to Redis only: never to a log line or a reason.
 */
#ifndef HAECHI_X_TOKEN_H
#define HAECHI_X_TOKEN_H

#include "adapter.h"

typedef struct x_token x_token;

typedef struct x_token_conf {
    const char *token_url;
    const char *client_id;
    const char *client_secret; /* confidential clients (HTTP Basic); NULL for public ones */
    const char *access_token;  /* the config's initial one (expiry unknown); NULL if none */
    const char *seed;          /* the config's refresh token; NULL if none */
    /* Where an operator puts a new refresh token, for reasons:
     * "refresh_token_env HAECHI_X_REFRESH". */
    const char *seed_field;
    long long margin_ms; /* refresh this long before expiry */
} x_token_conf;

/*
 * A renewal ended: OK (x_token_current() has a token), or not, with WHY for
 * people and TRANSIENT set when it may work later (X or Redis unreachable)
 * rather than needing an operator (the refresh token was refused). Always
 * called from the loop.
 */
typedef void x_token_ready_fn(void *owner, int ok, int transient, const char *why);

/* The strings of C are copied. NULL when out of memory. */
x_token *x_token_new(const adapter_env *env, const x_token_conf *c, x_token_ready_fn *ready,
                     void *owner);

/* The access token to use now, or NULL: call x_token_renew() and wait.
 * GEN (may be NULL) gets its generation, for x_token_renew() after a 401:
 * a number rather than a copy, so that no token outlives its holder. */
const char *x_token_current(x_token *t, long long now_ms, unsigned long *gen);

/*
 * Gets a usable token: reads the Redis copy on first use, refreshes when
 * it is missing or near expiry, or when X refused the access token of
 * generation REFUSED (a 401; 0 otherwise). A renewal already under way is
 * joined. ready() follows once, later.
 */
void x_token_renew(x_token *t, unsigned long refused);

/* The Redis key of the pair, for messages. */
const char *x_token_key(const x_token *t);

/* Frees T: the token request is abandoned; a Redis reply still owed frees
 * what is left when it comes back. ready() is not called again. */
void x_token_free(x_token *t);

#endif
