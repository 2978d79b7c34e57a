/*
 * adapter.h - the one interface every channel adapter implements (v2).
 *
 * An adapter is two const tables, the way curl splits a scheme from its
 * protocol handler: an adapter_desc says what the adapter is (name, flags,
 * limits, the shape of its config section) and an adapter_ops says what it
 * does. Both are registered by name in adapters/registry.c; the config maps
 * each channel to an adapter by name ("sns": {"adapter": "log", ...}), which
 * is also how `haechi rehearse` reroutes every channel to the log adapter.
 * The core never asks which channel or adapter it is talking to: what it
 * needs to know is in the descriptor, the channel table (channel.h) or the
 * outcome of a call. docs/adapters.md walks through the log adapter.
 *
 * Lifecycle: create() once per process, then any number of send() calls,
 * then destroy(). An adapter runs on the process's libevent loop and must
 * never block it. Ownership words follow jansson: "borrowed" is valid for
 * the call only, "new" is the caller's to free.
 */
#ifndef HAECHI_ADAPTER_H
#define HAECHI_ADAPTER_H

#include <event2/event.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "outbound.h"
#include "jcheck.h"
#include "rconn.h"
#include "status.h"
#include "tz.h"

/* ---- outcomes -------------------------------------------------------------- */

typedef enum adapter_status {
    ADAPTER_OK,       /* delivered: external_id, reach and counts are set */
    ADAPTER_AGAIN,    /* not now: try later (scope and retry_after_ms say how) */
    ADAPTER_FAILED,   /* will never work as it is: reason says why */
    ADAPTER_DECLINED, /* not for this channel or target: recorded, not an error */
    ADAPTER_CANCELLED /* cancel() or destroy() ended the send before an answer */
} adapter_status;

/* What AGAIN holds back: this item alone, or every item of the channel
 * (a 429, an exhausted quota) until retry_after_ms has passed. */
typedef enum adapter_scope { ADAPTER_SCOPE_ITEM, ADAPTER_SCOPE_CHANNEL } adapter_scope;

/* Why a send did not succeed, for metrics and for the retry policy. */
typedef enum adapter_error {
    ADAPTER_ERR_NONE,
    ADAPTER_ERR_AUTH,       /* credentials refused or expired */
    ADAPTER_ERR_RATE_LIMIT, /* the channel said slow down */
    ADAPTER_ERR_INVALID,    /* the channel refused the payload as malformed */
    ADAPTER_ERR_NETWORK,    /* could not connect, connection reset */
    ADAPTER_ERR_TIMEOUT,    /* no answer in time: the send may have happened */
    ADAPTER_ERR_REJECTED,   /* understood and refused (policy, duplicate, quota) */
    ADAPTER_ERR_INTERNAL    /* our side: out of memory, a bug */
} adapter_error;

/* "auth", "rate-limit", ... ("" for NONE). */
const char *adapter_error_name(adapter_error e);
const char *adapter_status_name(adapter_status s);

/* Per-recipient failures of one batch: bounded, the rest only counted. */
#define ADAPTER_FAILURES_MAX 16
/* Distinct reasons a batch's recipients were refused for ("not-friend",
 * "blocked", ...): counted per reason; past the last, under "other". */
#define ADAPTER_REASONS_MAX 8

typedef struct adapter_reason_count {
    char code[32]; /* short, stable, [a-z0-9-]: a metrics label and a status key */
    long long n;
} adapter_reason_count;

typedef struct adapter_failure {
    char recipient[64];
    char reason[128];
} adapter_failure;

typedef struct adapter_outcome {
    adapter_status status;
    adapter_error error;    /* AGAIN, FAILED: the class */
    int remote_code;        /* the HTTP status or SMTP reply code, 0 when none */
    adapter_scope scope;    /* AGAIN only */
    int64_t retry_after_ms; /* AGAIN: the channel's own delay (Retry-After), 0 if none */
    /* AGAIN: nothing failed, the channel is not ready for it yet (a quota
     * that frees at retry_after_ms): the item is held with the reason and
     * uses no attempt. */
    int hold;
    char external_id[128]; /* OK: the channel's id of what was posted */
    long long reach;       /* OK: recipients / followers reached, when known */
    /*
     * Batches: what happened to its recipients. A single post is 1/0/0.
     * On OK they are the batch's totals over all its attempts (a retried
     * batch counts the recipients an earlier attempt settled too), so that
     * the release's record adds each batch once. skipped: members the batch
     * did not send to because their status said not to (unsubscribed,
     * bounced, ...) at send time.
     */
    long long accepted, rejected, deferred, skipped;
    /* rejected, by reason (adapter_outcome_count_reason()). */
    int nreasons;
    adapter_reason_count reasons[ADAPTER_REASONS_MAX];
    int nfailures;              /* entries used in failures[] */
    long long failures_dropped; /* further failures that did not fit */
    adapter_failure failures[ADAPTER_FAILURES_MAX];
    char reason[256]; /* every status but OK: one line for people */
} adapter_outcome;

/* Adds a per-recipient failure to O, or counts it when the sink is full. */
void adapter_outcome_fail_recipient(adapter_outcome *o, const char *recipient, const char *reason);

/* Adds N recipients refused for CODE to O's reasons ("other" once full). */
void adapter_outcome_count_reason(adapter_outcome *o, const char *code, long long n);

/* ---- work items ------------------------------------------------------------- */

/* One work item: one release firing on one channel, for one target. */
typedef struct adapter_item {
    const char *item_id; /* unique per item, stable across retries: an idempotency key */
    const char *campaign_id;
    long long version; /* of the campaign document */
    const char *release_id;
    const char *channel; /* "sns", "kakao", ... */
    const char *target;  /* the batch of recipients or the network; "all" when none */
    int64_t due_ms;      /* when the release was due */
    int attempt;         /* 1 for the first try */
    /*
     * An earlier attempt may have reached the channel without an answer
     * (it timed out after the request went out, or its worker died while
     * it was in flight). The adapter looks for the post on the account
     * before it posts again.
     */
    int maybe_sent;
    /*
     * The whole campaign document, borrowed: valid during the call. It is
     * reference-counted, so an adapter that needs it after send() returns
     * takes a reference with json_incref() and drops it when done; it must
     * not modify it.
     */
    json_t *campaign;
    const tz *zone; /* the campaign's time zone; lives as long as the process */
} adapter_item;

/* ---- the environment an adapter lives in ------------------------------------ */

typedef struct adapter_env {
    struct event_base *base;
    rconn *redis;              /* the process's command connection; NULL offline */
    const char *engine_prefix; /* "PREFIX:{e}:" for keys an adapter writes */
    const char *key_prefix;    /* "PREFIX" (redis.prefix): for keys other modules own
                                  (audience lists, audience.h) */
    int offline;               /* only render() will be called: open no file or connection */
    outbound *http;            /* the process's outbound client; NULL offline */
} adapter_env;

/* ---- the descriptor ------------------------------------------------------------ */

enum adapter_flags {
    ADAPTER_FANOUT = 1u << 0,         /* plan() splits a release into targets */
    ADAPTER_SERVES_HTTP = 1u << 1,    /* answers public HTTP itself (the banner) */
    ADAPTER_NO_QUIET_HOURS = 1u << 2, /* never held by quiet hours (alerts) */
    ADAPTER_NEEDS_APPROVAL = 1u << 3, /* a release needs a second person's approval */
    ADAPTER_INSIGHTS = 1u << 4,       /* poll_insights() reports figures after the fact */
};

/* Defaults the config may lower or raise per channel. 0: no limit. */
typedef struct adapter_limits {
    int batch_max;    /* recipients per target batch (FANOUT) */
    int max_inflight; /* sends in flight per worker process */
    int rate_per_s;   /* sends per second, shared by every worker (token bucket) */
    int burst;        /* the bucket's size */
} adapter_limits;

struct adapter_ops;

typedef struct adapter_desc {
    const char *name;    /* what "adapter" in the config names */
    const char *summary; /* one line for `haechi --help` and docs */
    unsigned flags;      /* enum adapter_flags */
    adapter_limits limits;
    /*
     * The adapter's own fields of a channel's config section, checked by
     * the config's jcheck walker (closed: an unknown field is an error) and
     * copied through each field's JF_STORE into a struct of config_size
     * bytes, zeroed first, that create() receives. NULL: no own fields.
     */
    const jobject *config_shape;
    size_t config_size;
    const struct adapter_ops *ops;
} adapter_desc;

/* ---- the operations -------------------------------------------------------------- */

/* Called exactly once per send(), never from inside send() itself. O is
 * borrowed. */
typedef void adapter_done_fn(const adapter_outcome *o, void *arg);

/* plan(): TARGETS is a new JSON array of target strings, or NULL with O
 * saying why (AGAIN, FAILED, CANCELLED). With targets, O is OK and its
 * reach is the recipients the release will go to (a list's active members
 * at the snapshot; 0 when not known): the release's progress counts down
 * from it. */
typedef void adapter_plan_fn(json_t *targets, const adapter_outcome *o, void *arg);

typedef struct adapter_insights {
    long long impressions, reach, clicks, opens; /* -1: not reported */
} adapter_insights;

/* poll_insights(): FIG is NULL when the channel could not say (O why). */
typedef void adapter_insights_fn(const adapter_insights *fig, const adapter_outcome *o, void *arg);

typedef struct adapter_ops {
    /*
     * Creates the adapter's state. CONF is the filled config struct of
     * desc->config_size bytes (borrowed; NULL when the descriptor has no
     * config shape). Returns NULL with a reason in ERR for a config it
     * cannot work with (a file it cannot open, a credential it cannot read).
     */
    void *(*create)(const adapter_env *env, const void *conf, char *err, size_t errlen);

    /*
     * Frees the state. Every send, plan and poll still in flight has its
     * callback called first, with ADAPTER_CANCELLED (this is the one case
     * where a callback may run inside an adapter call).
     */
    void (*destroy)(void *state);

    /*
     * Optional. Checks of the campaign's section for this channel that only
     * this adapter knows (a network's weighted length, a template's
     * variables), reported under PATH (e.g. "/sns") into ERRS; facts for
     * people (counts against limits) go to NOTES. Needs no state: it runs
     * at `haechi validate` and at submit time. Both documents borrowed.
     */
    void (*validate)(const json_t *section, const json_t *campaign, const char *path,
                     diag_list *errs, diag_list *notes);

    /*
     * The exact payload(s) the adapter would send for ITEM, as JSON: what
     * `haechi preview` shows and `haechi rehearse` records. New reference,
     * or NULL with a reason in ERR. Must not send anything.
     */
    json_t *(*render)(void *state, const adapter_item *item, char *err, size_t errlen);

    /*
     * Optional (ADAPTER_FANOUT). How the release ITEM (target "all")
     * becomes targets: recipient batches of at most batch_max, or one per
     * network. Returns HAECHI_OK and later calls DONE once;
     * HAECHI_DECLINED when this item needs no fan-out (DONE is not called;
     * the item is sent as it is); HAECHI_ERR when it could not start (DONE
     * is not called; the caller retries). Targets are printable, without
     * '|', at most 63 bytes, and never "all".
     */
    haechi_status (*plan)(void *state, const adapter_item *item, adapter_plan_fn *done, void *arg);

    /*
     * Starts sending ITEM. Returns HAECHI_OK and later calls DONE once,
     * from the loop; or HAECHI_ERR when it could not even start (DONE is
     * not called; the caller treats it as AGAIN for the item). ITEM is
     * borrowed: copy what the send needs later, or take a reference to
     * item->campaign.
     */
    haechi_status (*send)(void *state, const adapter_item *item, adapter_done_fn *done, void *arg);

    /*
     * Optional. Ends the send of ITEM_ID in flight (every send when NULL):
     * its DONE is called with ADAPTER_CANCELLED, later, from the loop. The
     * outcome says in its error whether the request may have reached the
     * channel (ADAPTER_ERR_TIMEOUT) or surely did not (ADAPTER_ERR_NONE).
     * Without this hook the worker waits for sends to finish by themselves.
     */
    void (*cancel)(void *state, const char *item_id);

    /*
     * Optional (ADAPTER_INSIGHTS). Asks the channel what EXTERNAL_ID (an
     * OK outcome's id, for the item's TARGET: a network, "all" when none)
     * reached by now. Returns HAECHI_OK and later calls DONE once;
     * HAECHI_ERR when it could not start.
     */
    haechi_status (*poll_insights)(void *state, const char *target, const char *external_id,
                                   adapter_insights_fn *done, void *arg);
} adapter_ops;

/* ---- the registry ------------------------------------------------------------------ */

/* The adapter registered under NAME, or NULL. */
const adapter_desc *adapter_find(const char *name);

/* The I-th registered adapter, NULL past the last: for suites that run
 * against every adapter. */
const adapter_desc *adapter_at(size_t i);

/* "log, ..." for messages. */
void adapter_names(char *buf, size_t len);

#endif
