/*
 * config.h - the one JSON config file (deploy/haechi.example.json,
 * documented in docs/configuration.md).
 *
 * A bad config is reported like a bad campaign (JSON Pointer + rule), and
 * the daemon refuses to start on it. Secrets (tokens, the Redis password)
 * may be given inline, or named: "token_env" reads an environment
 * variable, "token_file" a file that only its owner may read.
 */
#ifndef HAECHI_CONFIG_H
#define HAECHI_CONFIG_H

#include <jansson.h>
#include <stddef.h>

#include "campaign.h"
#include "channel.h"
#include "diag.h"
#include "quiet.h"

/* What a role may do: viewer reads, editor also changes campaigns,
 * approver reads and approves alerts, admin does everything. */
enum {
    PERM_READ = 1u << 0,
    PERM_WRITE = 1u << 1,
    PERM_APPROVE = 1u << 2,
    PERM_ADMIN = 1u << 3,
};

typedef struct config_token {
    char name[65];
    char role[16];
    unsigned perms;
    unsigned char digest[32]; /* SHA-256 of the secret; the secret is not kept */
} config_token;

struct adapter_desc;

/* How one channel is sent: which adapter, and the release engine's rules. */
typedef struct channel_conf {
    char adapter[32];                /* a name registered in adapters/registry.c */
    const struct adapter_desc *desc; /* that adapter */
    void *adapter_conf;              /* its settings (desc->config_size bytes), or NULL */
    int named;                       /* the config names the adapter (else the "log" default) */
    quiet_hours quiet;               /* default 21:00-08:00 on CHANNEL_NIGHT_QUIET channels */
    int64_t expires_after_s;         /* 0: the engine's default */
    int max_inflight;                /* 0: the adapter's default */
    int rate_per_s, burst;           /* 0: the adapter's default */
} channel_conf;

/* The outbound client's settings (adapters/outbound.h); 0 or "": its default. */
typedef struct config_outbound {
    long long connect_timeout_ms;
    long long timeout_ms;
    long long max_response_bytes;
    long long max_host_connections;
    long long max_total_connections;
    char ca_file[1024];
} config_outbound;

struct outbound_conf;
struct rconn_options;

#define ENGINE_INSIGHTS_MAX 8

/* The release engine's knobs (docs/configuration.md). */
typedef struct engine_conf {
    int claim_batch;         /* due releases taken per claim */
    int max_attempts;        /* sends of one item before it is a dead letter */
    int64_t backoff_ms;      /* first retry delay; doubles per attempt */
    int64_t backoff_max_ms;  /* cap on the retry delay */
    int64_t reclaim_idle_ms; /* an item pending this long on a silent worker is taken over */
    int64_t expires_after_s; /* a release later than this is expired, not sent */
    int worker_concurrency;  /* items one worker process sends at once */
    int64_t retention_s;     /* a finished or cancelled campaign's engine keys live this long */
    /* On SIGTERM, how long sends in flight may take to finish (then cancelled). */
    int64_t drain_timeout_ms;
    /* When to ask an ADAPTER_INSIGHTS channel what a sent post reached,
     * after its send; insights_n of them (0: never). */
    int64_t insights_after_ms[ENGINE_INSIGHTS_MAX];
    int insights_n;
} engine_conf;

typedef struct config {
    char redis_host[256]; /* empty when redis_unix is used */
    int redis_port;
    char redis_unix[256];
    char redis_prefix[65];
    char *redis_password;
    int redis_command_timeout_ms;
    int redis_max_pending; /* commands waiting on one connection before calls get 503 */

    char listen_host[256];
    int listen_port;

    config_token *tokens;
    size_t ntokens;

    campaign_limits limits;
    int max_connections;
    int header_timeout_ms; /* a request's head must arrive within it */

    char client_url[512]; /* for CLI verbs: where the API is */
    char *client_token;   /* for CLI verbs */

    /* Whose secrets to resolve: the daemon needs the tokens it accepts and
     * the Redis password; a CLI verb needs only its own token. Set before
     * loading; config_defaults() picks the daemon. */
    int for_client;

    channel_conf channels[CHANNEL_COUNT];
    engine_conf engine;
    config_outbound outbound;
    int test_environment; /* "environment": "test" */
    int virtual_clock;    /* "testing": {"virtual_clock": true}; test environment only */
    struct {              /* "demo": {...}; demo environment only */
        int on;
        int speed;        /* wall seconds per real second */
        int64_t start_ms; /* the wall clock at the epoch */
        int64_t epoch_ms; /* real time; when !has_epoch, the daemon's start */
        int has_epoch;
    } demo;
} config;

/* Fills the built-in defaults (no tokens: only /healthz answers). */
void config_defaults(config *c);

/* Loads PATH (or BUF) over the defaults. Returns 0, or -1 with every error
 * in errs. */
int config_load_file(const char *path, config *c, diag_list *errs);
int config_load_buffer(const char *buf, size_t len, config *c, diag_list *errs);

void config_release(config *c);

/* C's "outbound" section as the outbound client takes it; OUT borrows
 * from C. */
void config_outbound_conf(const config *c, struct outbound_conf *out);

/* C's "redis" section as a Redis link takes it, NAME for its log lines;
 * OUT borrows from C. */
void config_rconn_options(const config *c, const char *name, struct rconn_options *out);

/* A secret from the environment variable ENV, or else from FILE, which only
 * its owner may read (trailing newlines dropped): a new string, or NULL with
 * a reason. For adapters' credentials, so that every secret is read alike. */
char *config_secret(const char *env, const char *file, char *why, size_t whylen);

/* The permission bits of a role name, 0 when unknown. */
unsigned config_role_perms(const char *role);

/* Where the config comes from when no --config is given: $HAECHI_CONFIG,
 * else /etc/haechi/haechi.json when it exists, else NULL (defaults). */
const char *config_default_path(void);

#endif
